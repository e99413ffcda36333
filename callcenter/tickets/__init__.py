"""Tickets (P1.5, X1, X2): opening and settling them, their numbers, the actions people take
on them, the console's queue and timeline, required documents and the API's JSON shapes."""
