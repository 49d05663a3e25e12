"""Training objectives for the InternVL model, one per file; each loss is a pure function of tensors."""
