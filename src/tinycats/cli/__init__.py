"""The ``tinycats`` command tree. main.py assembles it; each area registers its own commands
from its own module (data_cmds, classifier_cmds, generator_cmds, web_cmds) so the tree is one
but the files stay small."""
