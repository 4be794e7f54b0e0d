"""suanli.api"""
