"""Console pages (issue 5); see the module owner's docstring once written."""
