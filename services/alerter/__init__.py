"""The alerter: exhausted and disabled outcomes become alerts in the customer's Slack."""
