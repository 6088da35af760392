"""The numeric core: arrays in, arrays out. It imports nothing above it."""
