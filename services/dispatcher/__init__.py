"""The dispatcher: signs each delivery, POSTs it to the customer's receiver, writes outcomes."""
