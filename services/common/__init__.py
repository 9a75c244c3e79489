"""Contracts and mechanics shared by every service: settings, names, labels, messages, events, database."""
