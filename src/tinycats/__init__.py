"""tinycats: a cat-breed classifier and a breed-conditioned cat generator, run in the browser."""

__version__ = "0.1.0"
