"""Sandbox clearinghouse: a real SFTP server with one mailbox per trading partner, and a payer simulator."""
