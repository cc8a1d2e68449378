"""CTR modeling: the CTR dataset kind, feature encoding, networks and their training pipeline.

``modeling.nets``, ``modeling.features``, ``modeling.split`` and ``modeling.pipeline`` are plain
PyTorch/pandas; ``modeling.apps`` registers the kind and the algorithms with the Django apps.
"""
