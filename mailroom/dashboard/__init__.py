"""The Mailroom dashboard: a Streamlit app over the warehouse's aggregate tables.

`mailroom dashboard` serves it; ``data`` reads the warehouse (no Streamlit inside),
``app`` draws the page.
"""

from pathlib import Path

#: The Streamlit script `mailroom dashboard` serves.
APP = Path(__file__).with_name("app.py")
