"""Opt-in address books on a virtual number (AB-1 to AB-10).

People join by sending START and leave with STOPP; administrators add members
by hand; writers broadcast to every member by SMS, email or the web toolbox;
everything else goes to the list's functionaries. Consent is recorded for every
join and leave. The features arrive with the address-book issue.
"""
