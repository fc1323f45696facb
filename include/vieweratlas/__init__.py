"""ViewerAtlas: which Twitch channels share audiences, and which communities they form.

Modules in the order data flows: ``settings`` and ``lake``/``storage`` (where
things live), ``schema`` (what they look like), then the pipeline stages.
"""
