# Imported by imports_work.py: no work.
