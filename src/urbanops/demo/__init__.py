"""The demo street 观湖 (440309001) and, later, its live simulator."""
