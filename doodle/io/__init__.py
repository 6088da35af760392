"""Images, maps and files: reading, writing and checking what users give."""
