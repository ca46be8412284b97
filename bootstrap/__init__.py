"""The one-time foothold the platform needs in every environment account (see ``permissions``)."""
