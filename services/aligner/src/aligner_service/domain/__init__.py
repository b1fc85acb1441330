"""Plain-Python alignment rules: transcripts, results and their quality."""
