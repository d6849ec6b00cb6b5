# Imported by imports_work.py: 300 ms, the slowest import.
import time
time.sleep(0.3)
