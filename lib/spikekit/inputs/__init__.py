"""What the playbook reads: the input contracts (one module per table family), loaders and importers."""
