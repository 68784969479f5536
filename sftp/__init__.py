"""sftp."""
