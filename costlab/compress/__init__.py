"""Prompt compression: compressed templates and an honest token-savings report.

Methods (minify, fewshot, llmlingua2, llmlingua, gzip) rewrite only what is not protected:
placeholders, numbers, code blocks, JSON keys and URLs come out byte for byte.
"""
