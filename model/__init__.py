"""viragent.model — the InternVL3.5 vision-language model (build, load, infer, train).

Knows nothing about GUIs, actions or environments. The model itself lands with the Policy-core issue.
"""
