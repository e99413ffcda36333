"""People and the data about them that others give us: console users with roles and the
lender's customer import."""
