"""Business phone numbers of every owner: registering them, and their access tokens.

* :mod:`~convoflow.services.numbers.registry`: the ``/api/phone-numbers`` use cases;
* :mod:`~convoflow.services.numbers.tokens`: the token of a number, as the sender needs it;
* :mod:`~convoflow.services.numbers.channels`: which number a conversation runs on.
"""
