"""The plugin API (base classes and parameter checks), the registry, the contract kit, `precomputed`."""
