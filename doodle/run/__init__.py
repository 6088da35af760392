"""One painting from inputs to file: the pipeline every entry point uses."""
