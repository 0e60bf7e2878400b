"""Semantic-cache what-if: prompt embeddings, and a cache replayed over the logged traffic."""
