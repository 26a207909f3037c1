"""Overlord: provision, run and track multi-tenant data-ingestion platforms."""
