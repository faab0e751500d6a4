"""Building blocks shared by the methods (not methods themselves, not in the registry).

- :mod:`.nets`: the MLP extractor, per-task heads, seeded generators, task losses;
- :mod:`.variational`: closed-form KLs and samplers of the VMTL family;
- :mod:`.adversarial`: gradient reversal, domain discriminators, WGAN-GP critics (AMTNN);
- :mod:`.relation_step`: AMTNN's exact solver of the task-relation coefficients alpha;
- :mod:`.task_linear`: per-task linear models with intercepts and CV over a grid
  (mean-regularised and trace-norm MTL).
"""
