"""Talking to the served models: the tensor contract, the Triton client, the embedded server launcher."""
