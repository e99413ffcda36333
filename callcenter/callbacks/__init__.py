"""Callbacks owed to customers (P2): the policy that writes the outbox row, and the calling
hours it keeps."""
