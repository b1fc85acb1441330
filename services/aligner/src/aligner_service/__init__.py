"""aligner: aligns each stored pair of audio and transcript with an alignment engine."""
