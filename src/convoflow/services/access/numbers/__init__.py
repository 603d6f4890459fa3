"""Business phone numbers of every owner: registering them, and their access tokens.

* :mod:`~convoflow.services.access.numbers.registry`: the ``/api/phone-numbers`` use cases;
* :mod:`~convoflow.services.access.numbers.tokens`: the token of a number, as the sender
  and the read receipts need it.

Which number a conversation runs on is the conversations' business
(:mod:`~convoflow.services.conversations.channels`).
"""
