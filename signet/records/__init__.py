"""What travels through Signet: the records, their Avro codec and schemas, the event rules."""
