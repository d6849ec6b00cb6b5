# Imported by scripts_outer.py: 100 ms.
import time
time.sleep(0.1)
