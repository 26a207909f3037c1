"""The whole platform as one CloudFormation stack: its template, and deploying and destroying it.

The template is built by code from the platform's names (`PlatformNames`), never written by
hand, so that every function, role and rule is named and scoped the way the adapters that use
them expect (a bucket is ``{namespace}-...``, a table ``overlord.{namespace}-...``). It is
CloudFormation's language and AWS's knowledge, so it lives with the AWS adapters, out of the core.
"""
