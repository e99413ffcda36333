"""The written and in-person channels on the same tickets (P3, P4): email in and out and its
threading, SMS/WhatsApp, QA-approved reply templates and the walk-in desk."""
