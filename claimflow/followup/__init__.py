"""Work after the payer answered: secondary claims (COB), corrected and voided claims, appeals."""
