"""Automatic moderation rules: what a rule may say (spec), storing it (store), matching items (matching),
the worker that evaluates every incoming item once and acts through the operators' paths (worker,
acting) and undoing a rule's action (undo); the per-rule figures are in proxy/stats/rules.py. docs/rules.md."""
