"""Alignment engines behind one interface, chosen per job or per language."""
