# Imported by imports_work.py: 50 ms, plus scripts_inner.
import time
import scripts_inner
time.sleep(0.05)
