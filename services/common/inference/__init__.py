"""Classification: the result types and the ``Classifier`` contract, the Triton client, the LLM
provider, and the composite the worker calls."""
