"""reconcile: membership-as-code for SCIM 2.0."""

__version__ = "0.1.0"
