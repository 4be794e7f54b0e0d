"""suanli.client"""
