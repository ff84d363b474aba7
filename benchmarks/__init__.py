"""mmfuse benchmark scripts, suites and deep baselines (run from the repository root)."""
