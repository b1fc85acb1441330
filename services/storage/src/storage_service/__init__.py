"""storage: validates uploads, converts audio to canonical WAV and keeps the corpus files."""
