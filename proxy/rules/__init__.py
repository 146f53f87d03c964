"""Automatic moderation rules: what a rule may say (spec), storing it (store), matching items (matching),
the worker that evaluates every incoming item once and acts through the operators' paths (worker,
acting), undoing a rule's action (undo) and the per-rule figures (figures). docs/rules.md."""
