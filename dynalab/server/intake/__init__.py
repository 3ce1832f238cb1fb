"""Receiving one model upload, from the first byte of the request to the stored archive.

    form            the multipart form, streamed (``name``, ``taskCode``, file ``tarball``)
    tar_stream      reading a .tar.gz as it arrives, chunk by chunk
    archive_check   is that archive one we are willing to store?
    storage         files on disk: uploads in flight and accepted archives
    upload          the steps of one upload, each refusal its HTTP answer
"""
