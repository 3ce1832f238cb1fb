"""The steps' cache: what each step last did (``state``) and the fingerprints of its inputs (``fingerprint``)."""
