"""Provider-side savings what-ifs: prompt-prefix caching and batch eligibility."""
