"""What the regulator asks of complaint handling (POJK 18/2018, 22/2023, UU PDP): deadlines in
working days, oral complaints becoming written ones, the quarterly report, retention and the
customer's status look-up."""
